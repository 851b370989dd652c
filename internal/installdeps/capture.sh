#!/usr/bin/env bash
# Captures what .ci/install-deps asks of apt, dpkg and uname on each system
# it supports, into testdata/SYSTEM.txt, for install_test.go to replay.
#
#   internal/installdeps/capture.sh [WORKDIR]
#
# For each system it builds a root with mmdebstrap (--variant=apt), runs
# the real script in it with nothing of what it installs present (an
# empty root with only the system's os-release) and the commands it calls
# recorded (apt-get only records), and adds
# `apt-cache policy` of every package it would install, so the test also
# checks each has an installation candidate there. Debian's roots come
# from the Debian mirror ksystest uses (internal/cmd/debmirror), Ubuntu's
# from Ubuntu's default mirror as debootstrap names it, verified with
# ubuntu-keyring (installed, or fetched from Debian's trixie). Archive URLs
# are written as MIRROR. Roots are built in WORKDIR and kept there for
# the next run (rebuild: remove them), or in a temporary directory
# removed at the end. Needs root, mmdebstrap and debootstrap.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=internal/installdeps/testdata

# name, distribution, suite, components.
systems=(
	"debian-12 debian bookworm main"
	"debian-13 debian trixie main"
	"ubuntu-22.04 ubuntu jammy main,universe"
	"ubuntu-24.04 ubuntu noble main,universe"
)

[[ $(id -u) -eq 0 ]] || { echo "capture: needs root (mmdebstrap, chroot)" >&2; exit 1; }
for tool in mmdebstrap chroot; do
	command -v "$tool" >/dev/null || { echo "capture: needs $tool (apt-get install mmdebstrap)" >&2; exit 1; }
done
if [[ $# -gt 0 ]]; then
	work=$1
	mkdir -p "$work"
else
	work=$(mktemp -d /var/tmp/ksystest-capture.XXXXXX)
	trap 'rm -rf --one-file-system "$work"' EXIT
fi

debian_mirror=$(go run ./internal/cmd/debmirror)

# ubuntu_mirror SUITE: the amd64 mirror debootstrap's script for SUITE
# names (Ubuntu's scripts are links to gutsy; an older debootstrap may
# lack the newest suite's link).
ubuntu_mirror() {
	local script=/usr/share/debootstrap/scripts/$1
	[[ -e "$script" ]] || script=/usr/share/debootstrap/scripts/gutsy
	[[ -e "$script" ]] || { echo "capture: no debootstrap script for $1 (apt-get install debootstrap)" >&2; return 1; }
	# The script's first case statement picks the mirror by ARCH and SUITE.
	(
		ARCH=amd64 SUITE=$1
		default_mirror() { echo "$1"; }
		eval "$(sed -n '1,/^esac/p' "$script")"
	)
}

ubuntu_keyring=/usr/share/keyrings/ubuntu-archive-keyring.gpg
if [[ ! -e $ubuntu_keyring && ! -e $work/ubuntu-keyring/VERSION ]]; then
	go run ./internal/cmd/debextract -suite trixie -package ubuntu-keyring -path usr/share/keyrings -out "$work/ubuntu-keyring"
fi
[[ -e $ubuntu_keyring ]] || ubuntu_keyring=$work/ubuntu-keyring/usr/share/keyrings/ubuntu-archive-keyring.gpg

# The recording commands, run in the root with nothing else on PATH.
# record: the real command, its output kept under "$ COMMAND LINE".
record='#!/bin/bash
out=$(/usr/bin/${0##*/} "$@") || { echo "capture: ${0##*/} $* failed" >&2; exit 1; }
printf "$ %s %s\n%s\n" "${0##*/}" "$*" "$out" >>/capture/answers
printf "%s\n" "$out"'
aptget='#!/bin/bash
if [[ $1 == install ]]; then
	for a in "${@:2}"; do [[ $a == -* ]] || echo "$a"; done >/capture/install
fi'

mkdir -p "$out"
for system in "${systems[@]}"; do
	read -r name dist suite comps <<<"$system"
	dir=$work/$name
	if [[ ! -e $dir/etc/os-release ]]; then
		case $dist in
		debian) mirror=$debian_mirror keyring=() ;;
		ubuntu) mirror=$(ubuntu_mirror "$suite") keyring=(--keyring="$ubuntu_keyring") ;;
		esac
		echo "capture: building $name ($suite) in $dir" >&2
		rm -rf --one-file-system "$dir"
		mmdebstrap --quiet --variant=apt --architectures=amd64 --skip=cleanup/apt/lists "${keyring[@]}" "$suite" "$dir" \
			"deb $mirror $suite ${comps//,/ }" "deb $mirror $suite-updates ${comps//,/ }"
	fi
	rm -rf "$dir/capture"
	mkdir -p "$dir/capture/bin" "$dir/capture/empty/etc"
	cp "$dir/etc/os-release" "$dir/capture/empty/etc/os-release"
	cp .ci/install-deps "$dir/capture/install-deps"
	printf '%s\n' "$record" >"$dir/capture/bin/record"
	printf '%s\n' "$aptget" >"$dir/capture/bin/apt-get"
	chmod +x "$dir/capture/bin/record" "$dir/capture/bin/apt-get"
	for cmd in apt-cache dpkg uname; do ln -s record "$dir/capture/bin/$cmd"; done
	ln -s /bin/bash "$dir/capture/bin/bash"
	ln -s /usr/bin/id "$dir/capture/bin/id"
	ln -s /usr/bin/env "$dir/capture/bin/env"
	chroot "$dir" /usr/bin/env -i PATH=/capture/bin INSTALL_DEPS_ROOT=/capture/empty /capture/install-deps
	mapfile -t pkgs <"$dir/capture/install"
	for p in "${pkgs[@]}"; do
		grep -qxF "$ apt-cache policy $p" "$dir/capture/answers" ||
			chroot "$dir" /usr/bin/env -i PATH=/capture/bin apt-cache policy "$p" >/dev/null
	done
	{
		echo "# $name ($suite, $suite-updates; ${comps//,/ }): what .ci/install-deps asked, and"
		echo "# apt-cache policy of every package it would install; made by capture.sh."
		sed -E 's#[a-z]+://[^ ]+#MIRROR#g' "$dir/capture/answers"
	} >"$out/$name.txt"
	echo "capture: $name installs ${pkgs[*]}" >&2
done
