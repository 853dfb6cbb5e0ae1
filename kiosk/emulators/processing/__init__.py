"""Processing-system emulators: the real OSMP, CyberPlat and JSON protocols served over HTTP on loopback."""
