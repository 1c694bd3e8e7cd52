"""What a phone is set up with when it scans a key's QR code: ODK Collect's configuration
payload, the same whether the museum's server or the camp laptop issued the key."""

from __future__ import annotations

import base64
import hashlib
import json
import zlib

# a project colour per phone, picked by its name, so a phone with two projects (the museum's
# and the camp laptop's) tells them apart; the icon is the first letter of Қазба
PROJECT_COLOURS = ("#1f6f8b", "#b5542f", "#4c7a34", "#7a4c8b", "#a8862b", "#2f5fb5")
PROJECT_ICON = "Қ"


def collect_settings(server_url: str, code: str, device_name: str) -> str:
    """Collect's configuration-QR payload: base64 of zlib-compressed JSON settings."""
    digest = int(hashlib.sha256(device_name.encode()).hexdigest(), 16)
    settings = {
        "general": {
            "server_url": server_url,
            # the phone keeps exactly the forms the server lists: a new version replaces the old
            "form_update_mode": "match_exactly",
            "autosend": "wifi_and_cellular",
        },
        "admin": {},
        "project": {
            "name": f"{code} · {device_name}",
            "icon": PROJECT_ICON,
            "color": PROJECT_COLOURS[digest % len(PROJECT_COLOURS)],
        },
    }
    packed = zlib.compress(json.dumps(settings, ensure_ascii=False).encode("utf-8"))
    return base64.b64encode(packed).decode("ascii")
