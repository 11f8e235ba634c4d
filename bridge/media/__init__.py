"""The bridge's own copies of media files (store), what kind of image a file is (images), and
the channel media ids a delivery uploads them as (uploads)."""
