"""widgets layer of jupyter_mlres (see DESIGN §2)."""
