// SPDX-License-Identifier: MIT
/*
 * cxx-test: a C++ program for the drop-ins' operator new/delete
 * (src/override/cxx.c), run with LD_PRELOAD=libheapkit.so and
 * libheapkit-checked.so.
 *
 *   cxx-test            every check below; prints "cxx: N checks, M failed"
 *   cxx-test print      the containers' and streams' output only (compared
 *                       with a run without the drop-in)
 *   cxx-test MISUSE     one misuse (new-delete-array, array-new-delete,
 *                       malloc-delete, new-free, sized-delete-wrong): prints
 *                       the block's address, then misuses it
 */
#include <dlfcn.h>
#include <malloc.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <list>
#include <map>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

static int checks, failed;
#define CHECK(cond)                                                          \
	do {                                                                 \
		checks++;                                                    \
		if (!(cond)) {                                               \
			failed++;                                            \
			std::fprintf(stderr, "FAILED: %s (line %d)\n", #cond, __LINE__); \
		}                                                            \
	} while (0)

/* The library that defines sym in this process. */
static std::string defined_in(const char *sym)
{
	Dl_info info;
	void *p = dlsym(RTLD_DEFAULT, sym);
	return p && dladdr(p, &info) && info.dli_fname ? info.dli_fname : "";
}

/* Containers and streams: the same text with any allocator. */
static std::string workload()
{
	std::ostringstream out;
	std::vector<std::string> words;
	for (int i = 0; i < 20000; i++)
		words.push_back("word-" + std::to_string((i * 7919) % 10007) + std::string(size_t(i % 50), 'x'));
	std::sort(words.begin(), words.end());
	std::map<std::string, int> counts;
	std::unordered_map<int, std::vector<int>> buckets;
	std::list<std::unique_ptr<int[]>> arrays;
	for (size_t i = 0; i < words.size(); i++) {
		counts[words[i].substr(0, 8)]++;
		buckets[int(i % 97)].push_back(int(i));
		if (i % 100 == 0)
			arrays.emplace_back(new int[i + 1]());
	}
	uint64_t h = 1469598103934665603ull;
	for (auto &kv : counts)
		for (char ch : kv.first + std::to_string(kv.second))
			h = (h ^ uint8_t(ch)) * 1099511628211ull;
	for (auto &kv : buckets)
		h += uint64_t(kv.first) * kv.second.size();
	out << "words " << words.size() << " first " << words.front() << " last " << words.back() << "\n";
	out << "keys " << counts.size() << " buckets " << buckets.size() << " arrays " << arrays.size() << "\n";
	out << "hash " << std::hex << h << "\n";
	return out.str();
}

struct alignas(256) Wide {
	char bytes[300];
};

static int handler_calls;
static void handler_once()
{
	handler_calls++;
	std::set_new_handler(nullptr);
}

static void run_checks()
{
	/* The operators in use are the drop-in's. */
	const char *names[] = { "_Znwm", "_Znam", "_ZdlPv", "_ZdaPv", "_ZdlPvm", "_ZnwmSt11align_val_t",
				"_ZdlPvSt11align_val_t", "_ZnwmRKSt9nothrow_t" };
	for (const char *n : names)
		CHECK(defined_in(n).find("heapkit") != std::string::npos);

	std::string a = workload(), b = workload();
	CHECK(a == b && a.size() > 40);

	/* Aligned new, scalar and array, through the align_val_t forms. */
	for (int i = 0; i < 100; i++) {
		Wide *w = new Wide;
		Wide *v = new Wide[3];
		CHECK(reinterpret_cast<uintptr_t>(w) % 256 == 0 && reinterpret_cast<uintptr_t>(v) % 256 == 0);
		std::memset(w, 1, sizeof *w);
		std::memset(v, 2, 3 * sizeof *v);
		delete w;
		delete[] v;
	}
	void *big = ::operator new(1000, std::align_val_t(65536));
	CHECK(reinterpret_cast<uintptr_t>(big) % 65536 == 0);
	::operator delete(big, 1000, std::align_val_t(65536));

	/* Sized delete with the right size; nothrow forms. */
	int *x = new int(5);
	CHECK(*x == 5);
	::operator delete(x, sizeof(int));
	int *y = new (std::nothrow) int[10]();
	CHECK(y && y[9] == 0);
	delete[] y;
	void *z = ::operator new(0);
	void *z2 = ::operator new(0);
	CHECK(z && z2 && z != z2);
	::operator delete(z);
	::operator delete(z2);

	/* Out of memory: nothrow gives NULL; the throwing form calls the handler, then throws bad_alloc. */
	size_t huge = size_t(1) << 62;
	CHECK(::operator new(huge, std::nothrow) == nullptr);
	CHECK(::operator new[](huge, std::align_val_t(64), std::nothrow) == nullptr);
	bool threw = false;
	std::set_new_handler(handler_once);
	try {
		void *p = ::operator new(huge);
		::operator delete(p);
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw && handler_calls == 1);
	threw = false;
	try {
		void *p = ::operator new[](huge, std::align_val_t(128));
		::operator delete[](p, std::align_val_t(128));
	} catch (const std::bad_alloc &) {
		threw = true;
	}
	CHECK(threw);
}

static int misuse(const char *name)
{
	/* volatile pointers: the compiler must not see through the misuse */
	if (!std::strcmp(name, "new-delete-array")) {
		char *volatile p = new char;
		std::printf("%p\n", (void *)p);
		std::fflush(stdout);
		delete[] p;
	} else if (!std::strcmp(name, "array-new-delete")) {
		char *volatile p = new char[4096];
		std::printf("%p\n", (void *)p);
		std::fflush(stdout);
		delete p;
	} else if (!std::strcmp(name, "malloc-delete")) {
		int *volatile p = static_cast<int *>(std::malloc(64));
		std::printf("%p\n", (void *)p);
		std::fflush(stdout);
		delete p;
	} else if (!std::strcmp(name, "new-free")) {
		int *volatile p = new int[16];
		std::printf("%p\n", (void *)p);
		std::fflush(stdout);
		std::free(p);
	} else if (!std::strcmp(name, "sized-delete-wrong")) {
		void *volatile p = ::operator new(24);
		std::printf("%p\n", p);
		std::fflush(stdout);
		::operator delete(p, 72);
	} else {
		std::fprintf(stderr, "cxx-test: unknown misuse %s\n", name);
		return 2;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !std::strcmp(argv[1], "print")) {
		std::cout << workload();
		return 0;
	}
	if (argc >= 2)
		return misuse(argv[1]);
	run_checks();
	std::printf("cxx: %d checks, %d failed\n", checks, failed);
	return failed != 0;
}
