# Sourced by the engine benchmarks: busybox_archive DIR ARCHIVE NAME writes a docker-archive of
# a busybox image (/bin/busybox of busybox-static, its applet links, root in /etc/passwd and
# /etc/group, cmd sh, PATH=/bin) named NAME, built offline with umoci and skopeo in DIR.
busybox_archive() {
  local dir=$1 archive=$2 name=$3
  (
    cd "$dir"
    umoci init --layout oci
    umoci new --image oci:bb
    umoci unpack --image oci:bb bundle >/dev/null
    mkdir -p bundle/rootfs/bin bundle/rootfs/tmp bundle/rootfs/etc
    cp /bin/busybox bundle/rootfs/bin/busybox
    for a in $(bundle/rootfs/bin/busybox --list); do
      [[ $a == busybox ]] || ln -sf busybox "bundle/rootfs/bin/$a"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\n' >bundle/rootfs/etc/passwd
    printf 'root:x:0:\n' >bundle/rootfs/etc/group
    umoci repack --image oci:bb bundle >/dev/null
    umoci config --image oci:bb --config.cmd sh --config.env PATH=/bin
    rm -rf bundle
    skopeo copy -q oci:oci:bb "docker-archive:$archive:$name"
    rm -rf oci
  )
}
