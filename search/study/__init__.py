"""Running a search: the command (`command`), the plan (`plan`), Ray (`cluster`), one Tuner per
dataset (`tuner`, `searcher`, `pareto_scheduler`), the study's run (`runner`), its console
progress (`progress`) and the front's end-to-end timing (`end_to_end`)."""
