complete --keep-order --exclusive --command login-release --arguments "(COMPLETE=fish login-release -- (commandline --current-process --tokenize --cut-at-cursor) (commandline --current-token))"
