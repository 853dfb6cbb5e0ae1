"""What every request handler needs: settings, the database, the CA and the addresses the service is reached at."""

from __future__ import annotations

from dataclasses import dataclass, field

from provisioning.db import Database
from provisioning.identity.ca import CertificateAuthority
from provisioning.identity.requests import KeyCache
from provisioning.settings import Settings


@dataclass
class Services:
    """Shared, stateless-per-request parts of the service (one per process; state lives in the database)."""

    settings: Settings
    db: Database
    ca: CertificateAuthority
    link_url: str = ""  # where enrolled terminals send signed, mutually authenticated requests
    keys: KeyCache = field(default_factory=KeyCache)  # enrolled keys' fixed facts (never revocation)
