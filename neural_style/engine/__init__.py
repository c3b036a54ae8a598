"""The algorithm: VGG19 as an MXNet graph, the loss terms, the optimisers, the pixels.

Nothing here reads or writes files, parses arguments or prints.
"""
