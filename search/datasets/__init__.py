"""Datasets: where their files are, the demo sets, and the checker that runs before training."""
from search.datasets.check import Problem, check_dataset, ensure_valid
from search.datasets.demo import RECIPES as DEMO_DATASETS
from search.datasets.demo import default_data_root, ensure_demo_dataset, generate_demo_dataset
from trainables.dataset_files import DatasetFiles, Split

__all__ = ["DEMO_DATASETS", "DatasetFiles", "Problem", "Split", "check_dataset", "default_data_root",
           "ensure_demo_dataset", "ensure_valid", "generate_demo_dataset"]
