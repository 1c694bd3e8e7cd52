"""The register's printed documents: the acceptance act and the field inventory as HTML, PDF
and CSV, from one language-neutral description of the sheet (:mod:`.sheet`)."""
