#!/usr/bin/env bash
# Packages and recipes over the API (docs/http.md "Packages", "Recipes"), against the real
# daemon on the virtual rack:
#   upload an EC800M package (201 and what inspect found), the same bytes again (200), a
#   broken zip (422 naming the problem), over [packages] max_upload_mb with a Content-Length
#   (413 at once) and chunked (413, no temp file left); activate the package as a recipe and
#   flash an EC800M module in AT mode with it (its version and sha256 in the attempt row);
#   a second recipe for the same module (409 naming the first); delete the package while the
#   recipe uses it (409); restart the daemon: the recipe is still there; delete the recipe,
#   then the package (204 each).
#   packages_rack.sh MKPKG_BIN
. "$(dirname "$0")/lib.sh"
mkpkg=$1
E2E_WAIT_S=120 # a flash under ASan on a busy machine
SUP=sup-0123456789abcdef
OP=op-0123456789abcdef

pkgs="$E2E_TMP/pkgs"
mkdir -p "$pkgs" "$E2E_TMP/other"
ec800m=$("$mkpkg" --firmware QPY_OCPU_V0005_EC800M_CNLE_FW "$pkgs")
ec800m_b=$("$mkpkg" --firmware QPY_OCPU_V0006_EC800M_CNLE_FW "$E2E_TMP/other")
sha=$(sha256sum "$ec800m" | cut -d' ' -f1)
name=$(basename "$ec800m")
head -c 3000 /dev/urandom > "$pkgs/broken.zip"
printf 'PK\003\004' | cat - "$pkgs/broken.zip" > "$pkgs/broken2.zip"
head -c $((2 * 1024 * 1024)) /dev/zero > "$pkgs/big.bin"

config() {
  printf '[station]\nid = packages-rack\n[http]\nlisten = 127.0.0.1:0\n'
  printf '[storage]\ndatabase = @TMP@/flashrack.db\ndata_dir = @TMP@/data\ncache_dir = @TMP@/cache\n'
  printf '[auth]\ntoken = supervisor:line-lead:%s\ntoken = operator:%s\n' "$SUP" "$OP"
  printf '[packages]\nmax_upload_mb = 1\n'
  printf '[flow]\nretries = 0\nreboot_timeout_ms = 20000\n'
  printf '[slot S1]\nport = 1-2.1\n'
}
config > "$E2E_TMP/packages.conf"
e2e_start < "$E2E_TMP/packages.conf"

# call METHOD PATH [curl args...]: prints "STATUS BODY" (body on one line).
call() {
  local method=$1 path=$2
  shift 2
  curl -sS --max-time 60 -o "$E2E_TMP/body" -w '%{http_code}' -X "$method" \
    -H "Authorization: Bearer $SUP" "$@" "http://127.0.0.1:$E2E_PORT$path"
  printf ' '
  tr -d '\n' < "$E2E_TMP/body"
  echo
}
expect() { # expect STATUS "STATUS BODY"
  [ "${2%% *}" = "$1" ] || e2e_fail "wanted $1, got: $2"
}
upload() { # upload FILE NAME [curl args...]
  local file=$1 n=$2
  shift 2
  call POST "/api/v1/packages?name=$n" -H 'Content-Type: application/octet-stream' \
    --data-binary "@$file" "$@"
}
no_temp_files() {
  local left
  left=$(find "$E2E_TMP/data/packages" -maxdepth 1 -name '.upload-*' | wc -l)
  [ "$left" = 0 ] || e2e_fail "$left temp upload folders left: $(ls -a "$E2E_TMP/data/packages")"
}

# 1. Upload: 201 with what inspect found; an operator may not; the same bytes again: 200.
got=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $OP" \
  --data-binary "@$ec800m" "http://127.0.0.1:$E2E_PORT/api/v1/packages?name=$name")
[ "$got" = 403 ] || e2e_fail "operator upload: $got"
r=$(upload "$ec800m" "$name")
expect 201 "$r"
got=$(jq -r '"\(.sha256) \(.name) \(.source) \(.platform) \(.firmware) \(.series) \(.sub_model) \(.version) \(.uploaded_by) \(.recipes | length) \(.in_use)"' "$E2E_TMP/body")
[ "$got" = "$sha $name upload asr QPY_OCPU_V0005_EC800M_CNLE_FW EC800M CNLE V0005 line-lead 0 0" ] ||
  e2e_fail "upload answered: $(cat "$E2E_TMP/body")"
[ "$(jq -r .size "$E2E_TMP/body")" = "$(stat -c %s "$ec800m")" ] || e2e_fail "size: $(cat "$E2E_TMP/body")"
jq -e '.uploaded_at | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$")' "$E2E_TMP/body" >/dev/null ||
  e2e_fail "uploaded_at: $(cat "$E2E_TMP/body")"
cmp -s "$ec800m" "$E2E_TMP/data/packages/$sha/$name" || e2e_fail "the stored file differs"
r=$(upload "$ec800m" "again.zip")
expect 200 "$r"
[ "$(jq -r '"\(.sha256) \(.name)"' "$E2E_TMP/body")" = "$sha $name" ] || e2e_fail "re-upload: $r"
[ "$(api /api/v1/packages | jq -r '[.packages[].sha256] | join(",")')" = "$sha" ] ||
  e2e_fail "list: $(api /api/v1/packages)"
expect 200 "$(call GET "/api/v1/packages/$sha")"
expect 404 "$(call GET "/api/v1/packages/$(printf '%064d' 0)")"
expect 400 "$(call GET /api/v1/packages/XYZ)"

# 2. Refused uploads leave nothing behind.
r=$(upload "$pkgs/broken2.zip" broken.zip)
expect 422 "$r"
jq -e '.error.code == "package_invalid" and (.error.message | startswith("broken.zip: "))' \
  "$E2E_TMP/body" >/dev/null || e2e_fail "broken zip: $r"
grep -q '\.upload-' "$E2E_TMP/body" && e2e_fail "the message shows the temp folder: $r"
expect 413 "$(upload "$pkgs/big.bin" big.bin)"
# chunked (curl reads stdin: no length up front): refused when the limit is crossed
r=$(call POST "/api/v1/packages?name=big.bin" -H 'Content-Type: application/octet-stream' \
  -H 'Transfer-Encoding: chunked' --data-binary @- < "$pkgs/big.bin" || true)
expect 413 "$r"
grep -q 'nothing was kept' <<<"$r" || e2e_fail "chunked over the limit: $r"
expect 400 "$(upload "$ec800m" ../x.zip)"
expect 400 "$(upload "$ec800m" .hidden)"
expect 415 "$(call POST "/api/v1/packages?name=x.zip" -H 'Content-Type: application/json' --data '{}')"
no_temp_files
[ "$(sql "SELECT count(*) FROM packages")" = 1 ] || e2e_fail "packages: $(sql "SELECT * FROM packages")"

# 3. Activate it as a recipe; the line flashes an EC800M with it.
r=$(call PUT /api/v1/recipes/ec800m -H 'Content-Type: application/json' \
  --data "{\"package\":\"$sha\"}")
expect 201 "$r"
got=$(jq -r '"\(.name) \(.source) \(.state) \(.package.sha256) \(.created_by)"' "$E2E_TMP/body")
[ "$got" = "ec800m api ready $sha line-lead" ] || e2e_fail "recipe: $r"
expect 200 "$(call PUT /api/v1/recipes/ec800m -H 'Content-Type: application/json' \
  --data "{\"package\":\"$sha\",\"options\":\"\"}")"
r=$(upload "$ec800m_b" "$(basename "$ec800m_b")")
expect 201 "$r"
sha_b=$(jq -r .sha256 "$E2E_TMP/body")
r=$(call PUT /api/v1/recipes/ec800m-b -H 'Content-Type: application/json' \
  --data "{\"package\":\"$sha_b\"}")
expect 409 "$r"
grep -q 'recipe ec800m ' <<<"$r" || e2e_fail "the conflict does not name recipe ec800m: $r"
expect 404 "$(call PUT /api/v1/recipes/x -H 'Content-Type: application/json' \
  --data "{\"package\":\"$(printf '%064d' 0)\"}")"

rack plug 1-2.1 quectel-at series=EC800M submodel=CNLE "imei=$(e2e_imei 801)" >/dev/null
wait_for "S1 passes" /api/v1/slots/S1 '.flow.state == "pass"'
row=$(sql "SELECT result, package_version, package_sha256 FROM attempts")
[ "$row" = "pass|V0005|$sha" ] || e2e_fail "attempt: $row"
[ "$(api /api/v1/slots/S1 | jq -r '"\(.flow.recipe) \(.flow.version)"')" = "ec800m V0005" ] ||
  e2e_fail "slot view: $(api /api/v1/slots/S1)"

# 4. The package is in use: 409 naming the recipe.
r=$(call DELETE "/api/v1/packages/$sha")
expect 409 "$r"
grep -q ec800m <<<"$r" || e2e_fail "409 does not name the recipe: $r"

# 4b. The recipe goes while a module flashes with it: the attempt keeps its package, which
#     cannot be deleted (409 naming the slot) until the attempt is over.
rack unplug 1-2.1 >/dev/null
wait_for "S1 idle" /api/v1/slots/S1 '.flow.state == "idle" and .device == null'
rack plug 1-2.1 quectel-at series=EC800M submodel=CNLE "imei=$(e2e_imei 802)" \
  download_opts=flash_rate:8000 >/dev/null
wait_for "S1 flashing" /api/v1/slots/S1 '.flow.state == "flashing"'
expect 204 "$(call DELETE /api/v1/recipes/ec800m)"
[ "$(api "/api/v1/packages/$sha" | jq -c '[.recipes, .in_use]')" = '[[],1]' ] ||
  e2e_fail "package while flashing: $(api "/api/v1/packages/$sha")"
r=$(call DELETE "/api/v1/packages/$sha")
expect 409 "$r"
grep -q 'slot S1' <<<"$r" || e2e_fail "409 does not name the slot: $r"
wait_for "S1 passes without its recipe" /api/v1/slots/S1 '.flow.state == "pass"'
row=$(sql "SELECT result, package_version, package_sha256 FROM attempts ORDER BY id DESC LIMIT 1")
[ "$row" = "pass|V0005|$sha" ] || e2e_fail "second attempt: $row"
rack unplug 1-2.1 >/dev/null
expect 201 "$(call PUT /api/v1/recipes/ec800m -H 'Content-Type: application/json' \
  --data "{\"package\":\"$sha\"}")"

# 5. A restart keeps the recipe.
e2e_stop
mv "$E2E_TMP/daemon.log" "$E2E_TMP/daemon-1.log"
e2e_start < "$E2E_TMP/packages.conf"
wait_for "the recipe is back, ready" /api/v1/recipes \
  '[.recipes[] | select(.name == "ec800m" and .state == "ready" and .source == "api")] | length == 1'

# 6. A reload keeps the API's recipes after the file's; a [recipe] of the same name in the
#    file wins, with a warning naming both, and the API may not change it; without it the
#    API's recipe is back.
reloads() { grep -c 'reload (SIGHUP): applied' "$E2E_TMP/daemon.log" || true; }
reload_and_wait() {
  local before deadline=$((SECONDS + 60))
  before=$(reloads)
  rack signal HUP >/dev/null
  until [ "$(reloads)" -gt "$before" ]; do
    [ $SECONDS -lt $deadline ] || e2e_fail "reload not applied"
    sleep 0.1
  done
}
reload_and_wait
[ "$(api /api/v1/recipes | jq -r '[.recipes[] | "\(.name):\(.source):\(.state)"] | join(",")')" = "ec800m:api:ready" ] ||
  e2e_fail "recipes after a reload: $(api /api/v1/recipes)"
{ config; printf '[recipe ec800m]\npackage = %s\n' "$ec800m_b"; } |
  sed -e "s|@TMP@|$E2E_TMP|g" > "$E2E_TMP/flashrack.conf"
reload_and_wait
[ "$(api /api/v1/recipes | jq -r '[.recipes[] | "\(.name):\(.source):\(.package.version)"] | join(",")')" = "ec800m:config:V0006" ] ||
  e2e_fail "recipes with the file's ec800m: $(api /api/v1/recipes)"
grep -q "recipe ec800m: \[recipe ec800m\] of the configuration file wins over the API's recipe ec800m" \
  "$E2E_TMP/daemon.log" || e2e_fail "no warning naming both recipes"
r=$(call PUT /api/v1/recipes/ec800m -H 'Content-Type: application/json' --data "{\"package\":\"$sha\"}")
expect 409 "$r"
grep -q 'configuration file' <<<"$r" || e2e_fail "409 does not point at the file: $r"
expect 409 "$(call DELETE /api/v1/recipes/ec800m)"
sed -e "s|@TMP@|$E2E_TMP|g" "$E2E_TMP/packages.conf" > "$E2E_TMP/flashrack.conf"
reload_and_wait
[ "$(api /api/v1/recipes | jq -r '[.recipes[] | "\(.name):\(.source):\(.package.version)"] | join(",")')" = "ec800m:api:V0005" ] ||
  e2e_fail "the API's recipe is not back: $(api /api/v1/recipes)"

# 7. Delete the recipe, then the package; both gone from the lists and the disk.
expect 204 "$(call DELETE /api/v1/recipes/ec800m)"
expect 404 "$(call DELETE /api/v1/recipes/ec800m)"
expect 204 "$(call DELETE "/api/v1/packages/$sha")"
expect 404 "$(call GET "/api/v1/packages/$sha")"
[ ! -e "$E2E_TMP/data/packages/$sha" ] || e2e_fail "the package folder is still there"
[ "$(api /api/v1/recipes | jq '.recipes | length')" = 0 ] || e2e_fail "recipes: $(api /api/v1/recipes)"
n=$(sql "SELECT count(*) FROM audit_log WHERE action IN ('package.upload', 'package.delete', 'recipe.set', 'recipe.delete')")
[ "$n" -ge 10 ] || e2e_fail "audit rows: $(sql "SELECT action, target, detail FROM audit_log")"
no_temp_files
e2e_stop
echo "packages_rack: ok"
