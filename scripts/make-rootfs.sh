#!/usr/bin/env bash
# Makes a busybox root filesystem in DIR from Debian's busybox-static: one symlink per applet pointing at
# /bin/busybox inside the rootfs (so they resolve in the container), plus the usual mount points.
set -euo pipefail
dir=${1:?usage: make-rootfs.sh DIR}
mkdir -p "$dir"/{bin,dev,etc,proc,sys,tmp,run,root}
cp /bin/busybox "$dir/bin/busybox"
for applet in $(/bin/busybox --list); do
  [ -e "$dir/bin/$applet" ] || ln -s busybox "$dir/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' > "$dir/etc/passwd"
echo 'root:x:0:' > "$dir/etc/group"
chmod 1777 "$dir/tmp"
