"""The portal: server-rendered pages (Jinja2) for dealers and support, in Russian and English, no scripts needed."""
