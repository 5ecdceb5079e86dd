#!/bin/sh
# SPDX-License-Identifier: MIT
# Real programs under the drop-in give the same output as without it:
# python3 building and dropping large structures, sort and gzip on generated
# input (deterministic). Usage: dropin_programs.sh LIBHEAPKIT.so WORKDIR
set -eu
lib=$1
dir=$2
mkdir -p "$dir"
cd "$dir"
fail=0

# Deterministic input: 60k lines of pseudo-random words and numbers (awk, fixed seed).
awk 'BEGIN { srand(12345); for (i = 0; i < 60000; i++) {
	n = int(rand() * 8) + 1; line = "";
	for (j = 0; j < n; j++) line = line sprintf("%x%s", int(rand() * 1e9), j % 3 ? " " : "-");
	print line, int(rand() * 1e6) } }' > input.txt

same() {  # name, then the command line
	name=$1
	shift
	"$@" > "ref.$name" 2>&1 || { echo "$name: failed without the drop-in"; fail=1; return; }
	if ! LD_PRELOAD=$lib "$@" > "out.$name" 2>&1; then
		echo "$name: failed under the drop-in"
		fail=1
	elif ! cmp -s "ref.$name" "out.$name"; then
		echo "$name: output differs under the drop-in"
		fail=1
	else
		echo "$name: same output ($(wc -c < "out.$name") bytes)"
	fi
}

same sort sort input.txt
same sort-numeric sort -k2 -n -S 8M input.txt
same gzip sh -c 'gzip -9 -c input.txt | gzip -dc | cksum; gzip -1 -c input.txt | cksum'
cat > build.py <<'EOF'
import hashlib, sys
h = hashlib.sha256()
for rnd in range(2):
    d = {i: ("k%d" % i) * (i % 13 + 1) for i in range(120000 + rnd * 10000)}
    l = [list(range(i % 64)) for i in range(60000)]
    s = {tuple(x) for x in l[:5000]}
    t = sorted(d.values(), key=lambda v: (len(v), v))
    big = [bytearray(1 << (10 + i % 12)) for i in range(200)]
    h.update(("%d %d %d %s %d" % (len(d), sum(map(len, l)), len(s), t[len(t) // 2], sum(map(len, big)))).encode())
    del d, l, s, t, big
text = open(sys.argv[1]).read().split()
words = {}
for w in text:
    words[w] = words.get(w, 0) + 1
h.update(str(sorted(words.items())[:1000]).encode())
print(h.hexdigest(), len(text))
EOF
same python3 python3 build.py input.txt

exit $fail
