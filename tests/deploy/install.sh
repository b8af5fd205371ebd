#!/usr/bin/env bash
# Issue 9: `cmake --install` into a DESTDIR gives the documented layout (docs/install.md); the
# unit passes `systemd-analyze verify`; the udev rules cover the id tables; and the installed
# daemon, started with the installed config (storage, listen address and slot map pointed at
# the test's rack), flashes a module on the virtual rack.
#   install.sh MKPKG_BIN
. "$(dirname "$0")/../e2e/lib.sh"
mkpkg=$1
root="$E2E_TMP/root"
DESTDIR="$root" cmake --install "$FLASHRACK_BUILD_DIR" --prefix /usr > "$E2E_TMP/install.log" ||
  e2e_fail "cmake --install failed: $(tail -5 "$E2E_TMP/install.log")"

for f in usr/sbin/flashrackd usr/bin/flashrack etc/flashrack/flashrack.conf \
  usr/lib/systemd/system/flashrack.service usr/lib/udev/rules.d/70-flashrack.rules \
  usr/lib/sysusers.d/flashrack.conf usr/lib/tmpfiles.d/flashrack.conf \
  usr/share/flashrack/web/README.md usr/share/doc/flashrack/workflow.md \
  usr/share/doc/flashrack/openapi.yaml; do
  [ -e "$root/$f" ] || e2e_fail "missing after install: /$f"
done
[ -x "$root/usr/sbin/flashrackd" ] || e2e_fail "flashrackd is not executable"

# The API description is split (docs/openapi.yaml names files under docs/openapi/): the
# installed root must find every file it refers to.
doc="$root/usr/share/doc/flashrack"
refs=$(sed -n "s/^ *[^ ]*:* *{*\$ref: '\([^'#]*\)#.*/\1/p" "$doc/openapi.yaml" | sort -u)
[ "$(echo "$refs" | grep -c .)" -ge 5 ] || e2e_fail "installed openapi.yaml refers to no split files: $refs"
for f in $refs; do
  [ -f "$doc/$f" ] || e2e_fail "missing after install: /usr/share/doc/flashrack/$f (a \$ref of openapi.yaml)"
done

# The unit as installed, with ExecStart pointing into the DESTDIR (verify checks the binary).
sed "s|/usr/sbin/flashrackd|$root/usr/sbin/flashrackd|" \
  "$root/usr/lib/systemd/system/flashrack.service" > "$E2E_TMP/flashrack.service"
out=$(systemd-analyze verify "$E2E_TMP/flashrack.service" 2>&1) ||
  e2e_fail "systemd-analyze verify: $out"
for key in Type=notify WatchdogSec= NoNewPrivileges=yes ProtectSystem=strict \
  "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK" "DeviceAllow=char-usb_device rw" \
  User=flashrack StateDirectory=flashrack; do
  grep -q "^$key" "$E2E_TMP/flashrack.service" || e2e_fail "unit lacks $key"
done

# The rules are the id tables: the installed file is what the installed tool prints.
diff <("$root/usr/bin/flashrack" udev-rules) "$root/usr/lib/udev/rules.d/70-flashrack.rules" >/dev/null ||
  e2e_fail "installed udev rules differ from \`flashrack udev-rules\`"
grep -q 'ATTR{idVendor}=="2c7c", ATTR{idProduct}=="0901".*GROUP="flashrack", ENV{ID_MM_DEVICE_IGNORE}="1"' \
  "$root/usr/lib/udev/rules.d/70-flashrack.rules" || e2e_fail "no rule for the EC200U AT port"

# The installed daemon and config flash a module.
pkg=$("$mkpkg" --firmware QPY_OCPU_V0001_EC200U_CNAA_FW "$E2E_TMP/pkgs")
sed -e "s|^database = .*|database = @TMP@/flashrack.db|" -e "s|^data_dir = .*|data_dir = @TMP@/data|" \
  -e "s|^cache_dir = .*|cache_dir = @TMP@/cache|" -e "s|^listen = .*|listen = 127.0.0.1:0|" \
  -e "s|^port = 1-1\.1$|port = 1-3.1|" "$root/etc/flashrack/flashrack.conf" > "$E2E_TMP/installed.conf"
printf '\n[recipe ec200u]\npackage = %s\n' "$pkg" >> "$E2E_TMP/installed.conf"
E2E_DAEMON_BIN="$root/usr/sbin/flashrackd"
DAEMON_BIN=$E2E_DAEMON_BIN
e2e_start < "$E2E_TMP/installed.conf"
rack plug 1-3.1 quectel-unisoc-at series=EC200U submodel=CNAA "imei=$(e2e_imei 901)" >/dev/null
wait_for "the installed daemon flashed a module" /api/v1/slots/A1 '.flow.state == "pass"'
e2e_stop
echo "PASS install"
