"""fastnn.nn.init (framework helper writes it)."""
