#!/bin/bash
# `flashrack inspect` and `flashrack check` against every package flashrack-mkpkg makes:
# each layout must name the seed document's flash file, platform, series, sub-model, version
# and layout; each hostile input must fail with exit status 3 and a message naming the
# problem; the seed's compatible/incompatible pairs must give exit 0 / 1.
# Usage: test_cli_packages.sh MKPKG FLASHRACK
set -u
mkpkg=$(realpath "$1")
flashrack=$(realpath "$2")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
fail() {
    echo "FAIL: $*"
    fails=$((fails + 1))
}

"$mkpkg" "$tmp" || { echo "mkpkg failed"; exit 1; }
cd "$tmp" || exit 1

# JSON lines look like `  "key": "value",`: grep for the exact pair.
has() { grep -qF -- "\"$2\": $3" "$1"; }

count=0
while read -r path flash platform series sub version layout; do
    count=$((count + 1))
    out="$tmp/out.json"
    if ! "$flashrack" inspect --json "$path" > "$out" 2> "$tmp/err"; then
        fail "$path: inspect failed: $(cat "$tmp/err")"
        continue
    fi
    [ "$sub" = "-" ] && subjson=null || subjson="\"$sub\""
    has "$out" flash_file "\"$flash\"" || fail "$path: flash_file is not $flash"
    has "$out" platform "\"$platform\"" || fail "$path: platform is not $platform"
    has "$out" series "\"$series\"" || fail "$path: series is not $series"
    has "$out" submodel "$subjson" || fail "$path: submodel is not $sub"
    has "$out" version "\"$version\"" || fail "$path: version is not $version"
    has "$out" layout "\"$layout\"" || fail "$path: layout is not $layout"
    grep -qE '"sha256": "[0-9a-f]{64}"' "$out" || fail "$path: no sha256"
    grep -qE '"size": [1-9]' "$out" || fail "$path: no image with a size"
    # The human form says the same.
    "$flashrack" inspect "$path" | grep -qF "flash file:   $flash" || fail "$path: text output"
    # sha256 is the file's own hash.
    if [ -f "$path" ]; then
        want=$(sha256sum "$path" | cut -d' ' -f1)
        has "$out" sha256 "\"$want\"" || fail "$path: sha256 is not the file's"
    fi
done < MANIFEST
[ "$count" -ge 19 ] || fail "MANIFEST has only $count layouts"

bad=0
while IFS=$'\t' read -r file message; do
    bad=$((bad + 1))
    "$flashrack" inspect "bad/$file" > /dev/null 2> "$tmp/err"
    rc=$?
    [ $rc -eq 3 ] || fail "bad/$file: exit status $rc, want 3"
    grep -qF -- "$message" "$tmp/err" || fail "bad/$file: message '$(cat "$tmp/err")' lacks '$message'"
done < bad/EXPECT
[ "$bad" -ge 15 ] || fail "bad/EXPECT has only $bad inputs"

# Oversized (sparse, so it costs no disk), and a directory with a symbolic link.
truncate -s 600M "$tmp/huge.pac"
"$flashrack" inspect "$tmp/huge.pac" 2> "$tmp/err"
[ $? -eq 3 ] && grep -q "larger than the package limit" "$tmp/err" || fail "oversized file"
rm -f "$tmp/huge.pac"
mkdir -p linkdir && cp direct/*.pac linkdir/ && ln -s /etc/passwd linkdir/passwd
"$flashrack" inspect linkdir 2> "$tmp/err"
[ $? -eq 3 ] && grep -q "symbolic link" "$tmp/err" || fail "symlink in a directory"

# A missing path and a usage error.
"$flashrack" inspect no/such/file.zip 2> "$tmp/err"
[ $? -eq 3 ] && grep -q "No such file" "$tmp/err" || fail "missing file"
"$flashrack" inspect > /dev/null 2>&1
[ $? -eq 2 ] || fail "usage error exit status"

# check: seed 003 pairs. Packages are renamed copies of one PAC / binpkg / ASR package.
check() { # expect(0|1) package module
    "$flashrack" check "$2" --module "$3" > "$tmp/check" 2>&1
    rc=$?
    [ $rc -eq "$1" ] || fail "check $2 --module $3: exit $rc, want $1 ($(cat "$tmp/check"))"
}
pac=direct/QPY_OCPU_V0001_EC200U_CNAA_FW.pac
mkdir -p pairs
for n in QPY_OCPU_V0006_EC600N_CNLA_FW QPY_OCPU_V0001_EC600N_CNLF_FW \
         QPY_OCPU_EC800M_CNLE_FW QPY_OCPU_EC600M_CNLF_FW QPY_OCPU_EC800M_CNGD_FW; do
    cp asr-temporary/*.zip "pairs/$n.zip"
done
for n in QPY_OCPU_V0001_EC200U_CNAA_FW QPY_OCPU_V0001_EC200U_CNLA_FW; do
    cp "$pac" "pairs/$n.pac"
done
# Eigencomm: a folder named after the firmware holding at_command.binpkg.
for n in QPY_OCPU_EC600E_CNLC_FW QPY_OCPU_EC800E_CNLC_FW; do
    mkdir -p "pairs/$n"
    cp eigencomm-old-extracted/*/QPY_BETA0003_EC800E_CNLC_FW/at_command.binpkg "pairs/$n/"
done
# A renamed download zip: the inner folder (EC800E) wins and the rename is reported.
cp eigencomm-old/*.zip pairs/QPY_OCPU_EC600E_CNLC_FW.zip
"$flashrack" inspect --json pairs/QPY_OCPU_EC600E_CNLC_FW.zip > "$tmp/renamed.json"
has "$tmp/renamed.json" series '"EC800E"' || fail "renamed zip: inner name must win"
grep -q "names disagree" "$tmp/renamed.json" || fail "renamed zip: no warning"
check 0 pairs/QPY_OCPU_V0006_EC600N_CNLA_FW.zip EC600NCNLA-N05-SNNSA
check 1 pairs/QPY_OCPU_V0001_EC600N_CNLF_FW.zip EC600NCNLA-N05-SNNSA
check 0 pairs/QPY_OCPU_V0001_EC200U_CNAA_FW.pac EC200UCNAA-N05-SGNSA
check 1 pairs/QPY_OCPU_V0001_EC200U_CNLA_FW.pac EC200UCNAA-N05-SGNSA
check 0 pairs/QPY_OCPU_EC800M_CNLE_FW.zip EC800MCNLA
check 0 pairs/QPY_OCPU_EC800M_CNLE_FW.zip EC800MCNLE
check 1 pairs/QPY_OCPU_EC800M_CNLE_FW.zip EC800MCNLC
check 0 pairs/QPY_OCPU_EC600M_CNLF_FW.zip EC600MCNLC-N05-SNNSA
check 0 pairs/QPY_OCPU_EC800M_CNGD_FW.zip EC800MCNGCR01A01M08
check 1 pairs/QPY_OCPU_EC800M_CNGD_FW.zip EC800MCNGA
for m in EC600ECNLC EC600ECNLE EC600ECNLQ EC600ECNLD EC600ECNCG; do
    check 0 pairs/QPY_OCPU_EC600E_CNLC_FW "$m"
    check 1 pairs/QPY_OCPU_EC800E_CNLC_FW "$m"
    check 0 pairs/QPY_OCPU_EC800E_CNLC_FW "EC800E${m#EC600E}"
    check 1 pairs/QPY_OCPU_EC600E_CNLC_FW.zip "$m"
done
check 1 pairs/QPY_OCPU_V0006_EC600N_CNLA_FW.zip EC600UCNLA
check 2 pairs/QPY_OCPU_V0006_EC600N_CNLA_FW.zip not-a-module
"$flashrack" check pairs/QPY_OCPU_V0001_EC600N_CNLF_FW.zip --module EC600NCNLA --json \
    > "$tmp/check.json"
has "$tmp/check.json" compatible false || fail "check --json compatible false"
has "$tmp/check.json" rule '"submodel-mismatch"' || fail "check --json rule"
"$flashrack" check bad/empty.zip --module EC800MCNGA > /dev/null 2>&1
[ $? -eq 3 ] || fail "check of an unusable package must exit 3"

# --firmware: the production-flow packages. Without --image-mb their bytes are pinned (e2e
# tests and the station benchmark's fixtures depend on them; the zip is left out: its deflate
# stream depends on the zlib version). With --image-mb 4 the main image is 4 MiB and the
# package still parses: the PAC AP just fits its default 4 MiB region; the Crane cp.bin does
# not fit the default 3 MiB cp partition, so its table grows and the flash size mkpkg prints
# (one for all platforms, what the Crane flashinfo declares) is 32 MiB.
fw() { "$mkpkg" --firmware "$@" 2> "$tmp/err"; }
for spec in QPY_OCPU_V0001_EC200U_CNAA_FW:cfbdd7f0a5c941b70674d57eb8db01851a06ee8772c125805a938ba648f3b581 \
    QPY_OCPU_V0007_EC200A_CNLA_FW:0d8a88efb823b3d38c5bd33cd09ec2ac627480b532b9b97894d254919d63232f; do
    p=$(fw "${spec%%:*}" fw) || fail "--firmware ${spec%%:*}: $(cat "$tmp/err")"
    [ "$(sha256sum "$p" | cut -d' ' -f1)" = "${spec#*:}" ] || fail "--firmware ${spec%%:*}: bytes changed"
done
for spec in QPY_OCPU_V0001_EC200U_CNAA_FW:unisoc:AP QPY_OCPU_V0005_EC800M_CNLE_FW:asr:cp \
    QPY_OCPU_V0007_EC200A_CNLA_FW:asr1803:0x0808_FBF1_h.bin; do
    IFS=: read -r name platform image <<< "$spec"
    p=$(fw "$name" big --image-mb 4) || { fail "--image-mb 4 $name: $(cat "$tmp/err")"; continue; }
    grep -qF "device flash_size=0x2000000" "$tmp/err" || fail "--image-mb 4 $name: $(cat "$tmp/err")"
    "$flashrack" inspect "$p" > "$tmp/big.txt" 2>&1 || { fail "--image-mb 4 $name: $(cat "$tmp/big.txt")"; continue; }
    grep -qF "platform:     $platform" "$tmp/big.txt" || fail "--image-mb 4 $name: platform"
    # the FBF image carries its 4-byte id and the FBF_h headers (256 bytes) before the body
    size=$(awk -v i="$image" '$1 == i {print $2}' "$tmp/big.txt")
    [ "$size" = 4194304 ] || [ "$size" = 4194560 ] || fail "--image-mb 4 $name: $image is '$size' bytes"
done
for bad_mb in 0 201 x 3x; do
    fw QPY_OCPU_V0001_EC200U_CNAA_FW big --image-mb "$bad_mb" > /dev/null
    [ $? -eq 2 ] && grep -q "expected --image-mb N" "$tmp/err" || fail "--image-mb $bad_mb accepted"
done

echo "$count layouts, $bad hostile inputs, $fails failures"
[ $fails -eq 0 ]
