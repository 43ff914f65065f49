"""What a search found, as plain data and text: the front (`front`), each study's report
(`study_report`, `tables`), plots (`plots`, `front_html`), the analysis after a search (`analysis`:
`advisor`, `impact`, `across_datasets`, from `histories`), fronts across searches
(`across_searches`) and the closing summary (`closing`)."""
