# Shared by tools/cross/*: sourced, not run. Sets ARCH, TRIPLET, QEMU,
# SYSROOT, BUILD_DIR and CROSS_FILE for the architecture given as $1.
cross_arch() {
  ARCH=$1
  case "$ARCH" in
    armhf) TRIPLET=arm-linux-gnueabihf; QEMU=qemu-arm ;;
    arm64) TRIPLET=aarch64-linux-gnu; QEMU=qemu-aarch64 ;;
    *) echo "usage: $0 armhf|arm64" >&2; exit 2 ;;
  esac
  SYSROOTS=${DUPLEX_SYSROOTS:-/opt/sysroots}
  SYSROOT=$SYSROOTS/$ARCH
  BUILD_DIR=${BUILD_DIR:-build-$ARCH}
  CROSS_FILE=tools/cross/$ARCH.ini
}

# The cross file for meson: tools/cross/<arch>.ini names /opt/sysroots/<arch>;
# with DUPLEX_SYSROOTS set elsewhere, a second cross file overriding the
# `sysroot` constant is written into the build directory.
cross_files() {
  local args=()
  if [ "$SYSROOTS" != /opt/sysroots ]; then
    mkdir -p "$BUILD_DIR.cross"
    printf "[constants]\nsysroot = '%s'\n" "$SYSROOT" > "$BUILD_DIR.cross/sysroot.ini"
    args+=(--cross-file "$BUILD_DIR.cross/sysroot.ini")
  fi
  args+=(--cross-file "$CROSS_FILE")
  printf '%s\n' "${args[@]}"
}
