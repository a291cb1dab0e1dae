"""Reports over run folders: tables, rate–distortion plots, BD-rate, leaderboards, the CI gate."""
