//! Local runner library: the embedded default (dynoxide) and the server that mounts every route.
