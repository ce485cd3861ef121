#!/bin/sh
# Generate brewd(8) and brewctl(1) with help2man from the real --help texts of the programs in
# the freshly built virtualenv; each subcommand's --help goes in a COMMANDS section, and
# packaging/man/PROGRAM.h2m adds the sections written for the page.
# Usage: packaging/manpages.sh VENV_DIR MAN_DIR VERSION
set -eu
# help2man decodes the help texts in its locale's encoding; they are UTF-8 ("café").
export LC_ALL=C.UTF-8
venv=$(cd "$1" && pwd)
mandir=$2
version=$3
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

page() {  # page PROGRAM ENTRY SECTION DESCRIPTION
    # A wrapper named like the program, so argparse and help2man print its real name; the
    # venv's own scripts already point at /opt/venvs/brewd, which does not exist yet.
    printf '#!/bin/sh\nexec %s -c "import sys; from %s import %s as m; sys.argv[0] = \\"%s\\"; sys.exit(m())" "$@"\n' \
        "$venv/bin/python" "${2%%:*}" "${2##*:}" "$1" >"$tmp/$1"
    chmod +x "$tmp/$1"
    # NAME goes through the include file: help2man would mangle a non-ASCII --name argument.
    printf '[NAME]\n%s \\- %s\n' "$1" "$4" >"$tmp/$1.h2m"
    "$venv/bin/python" "$here/manhelp.py" "$2" >>"$tmp/$1.h2m"
    # DESCRIPTION, FILES, ENVIRONMENT, SIGNALS, EXIT STATUS: written for the page, not --help.
    cat "$here/man/$1.h2m" >>"$tmp/$1.h2m"
    mkdir -p "$mandir/man$3"
    help2man --no-info --no-discard-stderr --locale=C.UTF-8 --section="$3" \
        --version-string="$version" --include="$tmp/$1.h2m" \
        --output="$mandir/man$3/$1.$3" "$tmp/$1"
}

page brewd brewd.cli.brewd:main 8 "background-jobs daemon of the Brew Me In café platform"
page brewctl brewd.cli.brewctl:main 1 "control the brewd daemon: job status, health, trigger, history, runs, watch, logs, pause"
