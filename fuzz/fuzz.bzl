"""fuzz_target: a libFuzzer target and the test that runs it.

Under --config=fuzz (clang, -fsanitize=fuzzer) the binary is a libFuzzer
fuzzer and `<name>_test` fuzzes it for FUZZ_SECONDS from its committed
corpus. Everywhere else (GCC, the sanitizer configs) it links replay_main
and the test replays the corpus: every input ever committed, crashes found
included, stays a regression test in `bazel test //...`.
"""

def fuzz_target(name, srcs, deps):
    native.cc_binary(
        name = name,
        testonly = True,
        srcs = srcs,
        deps = deps + [":fuzz_check"] + select({
            ":libfuzzer": [],
            "//conditions:default": [":replay_main"],
        }),
        linkopts = select({
            ":libfuzzer": ["-fsanitize=fuzzer"],
            "//conditions:default": [],
        }),
    )
    native.sh_test(
        name = name + "_test",
        size = "medium",
        srcs = ["fuzz_test.sh"],
        args = [
            "$(location :%s)" % name,
            "%s/corpus/%s" % (native.package_name(), name),
        ],
        data = [":" + name] + native.glob(["corpus/%s/*" % name]),
        tags = ["fuzz"],
    )
