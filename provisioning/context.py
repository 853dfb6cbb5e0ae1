"""What every request handler needs: settings, the database, the CA and the addresses the service is reached at."""

from __future__ import annotations

from dataclasses import dataclass

from provisioning.db import Database
from provisioning.identity.ca import CertificateAuthority
from provisioning.settings import Settings


@dataclass
class Services:
    """Shared, stateless-per-request parts of the service (one per process; state lives in the database)."""

    settings: Settings
    db: Database
    ca: CertificateAuthority
    link_url: str = ""  # where enrolled terminals send signed, mutually authenticated requests
