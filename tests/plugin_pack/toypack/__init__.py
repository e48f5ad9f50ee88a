"""A task pack and a memory system that live outside memeval, registered by entry points only
(toypack-0.1.dist-info/entry_points.txt): the plug-in path of the task contract."""
