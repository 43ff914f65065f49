"""What runs inside a trial: the YOLO-World model, config building, the Train worker loop, speed."""
