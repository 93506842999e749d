#!/usr/bin/env bash
# sctpdp serve and load at their limits on real SCTP (in the guest where the
# host has none): see limits_test.py.
set -uo pipefail
exec tools/sctpvm -- /usr/bin/python3 tools/sctpdp/limits_test.py "$(pwd)/$1"
