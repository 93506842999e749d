"""sctp_guest_test: a GoogleTest binary that runs against real kernel SCTP."""

def sctp_guest_test(name, srcs, deps = [], args = [], data = [], tags = [], timeout = "long", **kwargs):
    """A cc_test whose binary runs inside tools/sctpvm.

    On a host without kernel SCTP the binary runs in the QEMU guest (booting
    the kernel cached by tools/setup.sh); on a host with SCTP it runs directly.
    A test that cannot reach SCTP fails: it never passes by skipping.
    The guest boots the kernel SCTPVM_KERNEL names (a kernel setup cached:
    6.1, 6.12; or an image path), Debian's 6.1 when unset:
    `bazel test --config=k612 //...` runs the guest suite on 6.12.
    The binary is visible to //tools/sctpdp, whose `regress` runs it on
    every side.

    Args:
      name: test name; the binary is NAME_bin.
      srcs, deps, data, args: as for cc_test.
      tags: extra tags; "sctp-guest" is always added.
      timeout: Bazel test timeout; guests under TCG are slow, so "long".
      **kwargs: passed to the cc_binary.
    """
    native.cc_binary(
        name = name + "_bin",
        srcs = srcs,
        deps = deps + ["@system//:gtest_main"],
        testonly = True,
        visibility = ["//tools/sctpdp:__pkg__"],
        **kwargs
    )
    native.sh_test(
        name = name,
        srcs = ["//tools:guest_test.sh"],
        args = ["$(rootpath :%s_bin)" % name] + args,
        data = data + [":%s_bin" % name, "//tools:sctpvm_files"],
        timeout = timeout,
        tags = tags + ["sctp-guest"],
    )
