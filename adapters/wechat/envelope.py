"""The AES envelope of compatible and safe mode: AES-256-CBC under the EncodingAESKey, with the
app id inside (FACTS.md §1). wechatpy's WXBizMsgCrypt port does the cipher work."""
from __future__ import annotations

from wechatpy.crypto import WeChatCrypto

from bridge.channels.contract import InvalidSignature, MalformedRequest


class Envelope:
    def __init__(self, token: str, encoding_aes_key: str, app_id: str):
        self._crypto = WeChatCrypto(token, encoding_aes_key, app_id)

    def open(self, encrypt: str, msg_signature: str, timestamp: str, nonce: str) -> bytes:
        """The plaintext inside ENCRYPT; the caller has checked msg_signature already."""
        try:
            plain = self._crypto.decrypt_message({"Encrypt": encrypt}, msg_signature, timestamp, nonce)
        except Exception as exc:  # wechatpy raises several types for corrupt ciphertext
            if type(exc).__name__ == "InvalidAppIdException":
                raise InvalidSignature("message is for another app id") from exc
            raise MalformedRequest("body could not be decrypted") from exc
        return plain.encode() if isinstance(plain, str) else plain

    def seal(self, plaintext: str, nonce: str, timestamp: str) -> str:
        """The XML envelope <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>."""
        return self._crypto.encrypt_message(plaintext, nonce, timestamp)


def sealed_field(envelope_xml: str, tag: str) -> str:
    """One field of a sealed XML envelope (ours, so its shape is known)."""
    value = envelope_xml.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0]
    return value.replace("<![CDATA[", "").replace("]]>", "")
