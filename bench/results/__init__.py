"""What a run produces and what reads it: metrics, reports, leaderboard, CI gate."""
