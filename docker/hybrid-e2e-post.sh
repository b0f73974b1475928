#!/bin/sh
# The action's `post-entrypoint` (action.yml). The runner starts the post step in a fresh container
# from the same image, with the same `runs.args` as the main step (`action`) and the main step's
# GITHUB_STATE entries as STATE_* variables. The arguments are ignored on purpose: this wrapper only
# exists because the post step cannot be given different arguments than the main step.
exec /usr/local/bin/hybrid-e2e action post
