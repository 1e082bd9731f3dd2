"""asyncify-ab's modules.  scripts/asyncify-ab (the command) puts the
directory holding this package first on sys.path and calls main.main.

common      version, variants, constants, exit statuses, exceptions,
            small text helpers
options     the command line and --help, finding the command, the
            library and the helper, each variant's environment
files       digests, --compare-file snapshots and restores, differences
runner      running one command, timeouts, time and peak RSS, statuses
experiment  warmup, interleaved rounds, --summary and --flame runs
stats       equivalence verdicts, statistics, bootstrap ratio CIs
report      the text report, --export-markdown, --export-json
svg         --export-svg
main        main(): the whole run, exports, clean-up, exit status
"""
