"""WeChat's protocol, module by module after its own concepts; `oa` (and next `mp`) build on the rest."""
