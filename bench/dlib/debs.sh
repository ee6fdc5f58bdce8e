# Sourced by the dlib bench scripts: `need_debs PKG…` installs the Debian packages among PKG
# that are missing (as root, or through sudo), and does nothing when all are installed.
need_debs() {
  dpkg -s "$@" > /dev/null 2>&1 && return 0
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}
