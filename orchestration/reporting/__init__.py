"""The weekly leadership report: reads the serving file, writes HTML, Markdown and CSV."""
