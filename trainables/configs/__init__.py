"""Complete mmengine configs for a trial: the shared training recipe, YOLO-World, the YOLOv8 baseline."""
