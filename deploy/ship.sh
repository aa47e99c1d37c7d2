#!/bin/sh
# Ships the writer's last commit to read-only replicas (docs/deploy.md):
#
#   deploy/ship.sh WRITER_INDEX_DIR REPLICA_DIR...
#
# A REPLICA_DIR is a local folder or an rsync destination (host:/path).
# Each replica gets the new segment files first, then the commit
# (meta.json, written by rsync under a temporary name and renamed: a
# replica sees the old commit or the new one, never half of one), then the
# files no commit needs any more are deleted. `postsearch serve --read-only`
# on the replica picks the new commit up within a second, without a restart.
# POSTSEARCH_BIN names the binary (default: postsearch on the PATH).
set -eu
if [ $# -lt 2 ]; then
    echo "usage: $0 WRITER_INDEX_DIR REPLICA_DIR..." >&2
    exit 64
fi
bin=${POSTSEARCH_BIN:-postsearch}
src=$1
shift
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$bin" --index "$src" snapshot "$work/snapshot"
for dest in "$@"; do
    # 1. Segment files (new ones; files never change once written).
    rsync -a --exclude meta.json --exclude '.tantivy-*' "$work/snapshot/" "$dest/"
    # 2. The commit.
    rsync -a "$work/snapshot/meta.json" "$dest/meta.json"
    # 3. Files of older commits. A replica still searching them keeps them
    #    open: deleting does not pull them from under it.
    rsync -a --delete --exclude '.tantivy-*' "$work/snapshot/" "$dest/"
    echo "shipped to $dest" >&2
done
