"""Models at run time: loading ONNX files, checking their feature spec, running them.

The role CRNN's scorer (``scorer``, with trunk-once scoring's geometry in ``trunk``), the
speaker-count model (``activity``), what an exported model says about itself (``metadata``), and
the models that ship with the package (``shipped``). Nothing here imports TensorFlow or the
model-building packages (``training``, ``export``): ``make lint`` checks it.
"""
