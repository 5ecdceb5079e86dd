#!/bin/sh
# SPDX-License-Identifier: MIT
# Real programs under the drop-in give the same output as without it:
# python3 building and dropping large structures, sort and gzip on generated
# input (deterministic), git making a repository and reading it back, and a
# small C++ program (iostream, containers, strings; built here when a C++
# compiler is found). Usage: dropin_programs.sh LIBHEAPKIT.so WORKDIR
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

if command -v git > /dev/null; then
	cat > git.sh <<'EOF'
set -e
export GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.org GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.org
export GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' GIT_CONFIG_NOSYSTEM=1 HOME=$PWD
rm -rf repo && git init -q -b main repo && cd repo
for i in 1 2 3 4 5; do
	head -c $((i * 200000)) ../input.txt > f$i.txt
	split -l 500 f$i.txt part$i.
	git add -A && git commit -q -m "commit $i"
done
git rm -q part1.* && git mv f2.txt moved.txt && git commit -q -m rename
git log --stat --format='%H %s' | tail -n 40
git diff HEAD~3 --stat | tail -n 5
git gc -q --aggressive && git fsck --strict 2>&1 && git count-objects -v | grep -v size
git grep -c 1a2 HEAD -- 'part5.*' | tail -n 5
EOF
	same git sh git.sh
fi

if command -v c++ > /dev/null; then
	cat > containers.cc <<'EOF'
#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

int main(int argc, char **argv)
{
	std::ifstream in(argv[1]);
	std::unordered_map<std::string, int> count;
	std::map<size_t, std::vector<std::string>> by_len;
	std::vector<std::unique_ptr<std::string>> owned;
	std::string w;
	while (in >> w) {
		if (count[w]++ == 0)
			by_len[w.size()].push_back(w);
		owned.push_back(std::make_unique<std::string>(w + w));
	}
	std::vector<std::pair<int, std::string>> top;
	for (auto &kv : count)
		top.emplace_back(-kv.second, kv.first);
	std::sort(top.begin(), top.end());
	std::ostringstream out;
	for (size_t i = 0; i < 10 && i < top.size(); i++)
		out << top[i].second << ' ' << -top[i].first << '\n';
	for (auto &kv : by_len) {
		std::sort(kv.second.begin(), kv.second.end());
		out << kv.first << ": " << kv.second.size() << " first " << kv.second.front() << '\n';
	}
	auto shared = std::make_shared<std::vector<double>>(100000, 1.5);
	std::vector<std::shared_ptr<std::vector<double>>> copies(50, shared);
	out << owned.size() << ' ' << copies.size() << ' ' << shared.use_count() << '\n';
	std::cout << out.str();
	return 0;
}
EOF
	if c++ -O2 -std=c++17 -o containers containers.cc 2> containers.log; then
		same c++ ./containers input.txt
	else
		echo "c++: could not build the C++ program (containers.log)"
		fail=1
	fi
fi

exit $fail
