#!/bin/sh
# Turns a fresh Debian 12 into a kiosk terminal: packages, the dedicated user, the factory install, the state
# folders and their permissions, the systemd units, the udev rules, and no way out to a shell.
#
#   sudo tools/install-terminal.sh --wheels DIR --config terminal.toml [--source DIR]
#
# DIR holds the kiosk wheel and every dependency wheel (a release bundle's wheels/ folder, or `pip wheel .`):
# nothing is taken from any package index. --source is this repository (for the units and rules; default: the
# folder this script is in, one up). Run it again to repair: every step is idempotent.
set -eu

wheels="" config="" source=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    --wheels) wheels=$2; shift 2 ;;
    --config) config=$2; shift 2 ;;
    --source) source=$2; shift 2 ;;
    *) echo "install-terminal: unknown option $1" >&2; exit 2 ;;
  esac
done
[ -n "$wheels" ] && [ -d "$wheels" ] || { echo "install-terminal: --wheels DIR is needed" >&2; exit 2; }
[ -n "$config" ] && [ -f "$config" ] || { echo "install-terminal: --config FILE is needed" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "install-terminal: run as root" >&2; exit 2; }
. /etc/os-release
[ "${VERSION_ID:-}" = 12 ] || echo "install-terminal: made for Debian 12, this is ${PRETTY_NAME:-unknown}" >&2

# Only the wheels given: no index, no pip configuration of this machine.
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
export PIP_CONFIG_FILE=/dev/null

echo "install-terminal: packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# systemd as init, udev for the device names, cage as the screen, libusb for USB receipt printers, polkitd so
# the dealer's remote reboot may ask logind without a password (polkit/50-kiosk.rules)
apt-get install -y -qq --no-install-recommends python3 python3-venv systemd systemd-sysv udev cage \
  libusb-1.0-0 polkitd >/dev/null

echo "install-terminal: user kiosk (no password, no shell)"
for group in dialout lp video input render; do
  getent group "$group" >/dev/null || groupadd --system "$group"
done
if ! id kiosk >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/kiosk --no-create-home --shell /usr/sbin/nologin --user-group kiosk
fi
usermod --append --groups dialout,lp,video,input,render kiosk
passwd --lock kiosk >/dev/null

echo "install-terminal: factory install in /opt/kiosk (updates never replace it)"
[ -x /opt/kiosk/.venv/bin/python ] || python3 -m venv /opt/kiosk/.venv
/opt/kiosk/.venv/bin/python -m pip install --quiet --no-index --find-links "$wheels" --upgrade kiosk
version=$(/opt/kiosk/.venv/bin/python -c 'import importlib.metadata as m; print(m.version("kiosk"))')

echo "install-terminal: state folders"
install -d -o kiosk -g kiosk -m 0750 /var/lib/kiosk /var/lib/kiosk/updates /var/lib/kiosk/updates/releases
install -d -o kiosk -g kiosk -m 0750 /var/cache/kiosk /var/cache/kiosk/escpos
install -d -o root -g kiosk -m 0750 /etc/kiosk
install -o root -g kiosk -m 0640 "$config" /etc/kiosk/terminal.toml
# The factory release: what `current` names until the first update, and the last resort of a rollback.
factory=/var/lib/kiosk/updates/releases/factory
install -d -o kiosk -g kiosk -m 0750 "$factory"
ln -sfn /opt/kiosk/.venv "$factory/venv"
printf '{"version": "factory", "package": "%s"}\n' "$version" > "$factory/release.json"
chown -h kiosk:kiosk "$factory/venv" "$factory/release.json"
if [ ! -L /var/lib/kiosk/updates/current ]; then
  ln -s releases/factory /var/lib/kiosk/updates/current
  chown -h kiosk:kiosk /var/lib/kiosk/updates/current
fi

echo "install-terminal: systemd units and udev rules"
install -m 0644 "$source"/systemd/*.service "$source"/systemd/*.timer /etc/systemd/system/
install -m 0644 "$source/udev/99-kiosk.rules" /etc/udev/rules.d/99-kiosk.rules
install -d -m 0755 /etc/polkit-1/rules.d
install -m 0644 "$source/polkit/50-kiosk.rules" /etc/polkit-1/rules.d/50-kiosk.rules
# No way out to a shell: no gettys on other virtual terminals, none spawned on demand.
install -d /etc/systemd/logind.conf.d
printf '[Login]\nNAutoVTs=0\nReserveVT=0\n' > /etc/systemd/logind.conf.d/kiosk.conf
systemctl disable getty@tty1.service >/dev/null 2>&1 || true
systemctl mask getty@tty2.service getty@tty3.service getty@tty4.service getty@tty5.service \
  getty@tty6.service >/dev/null
systemctl set-default graphical.target >/dev/null
systemctl enable kiosk-compositor.service kiosk.service kiosk-updater.timer >/dev/null

echo "install-terminal: done: kiosk $version; enroll with: sudo -u kiosk /opt/kiosk/.venv/bin/kiosk enroll" \
     "--config /etc/kiosk/terminal.toml --dealer URL --code CODE --ca-fingerprint SHA256:..."
