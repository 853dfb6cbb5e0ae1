"""Terminal identity: the service's CA, enrollment codes, certificates, the CRL and request-signature checks."""
