"""Speed of ``ocrlib`` beside PyTorch and scikit-learn, measured on this machine in one run.

    python -m benchmarks                  # table on stdout, plot in benchmarks/results/
    python -m benchmarks --out speed.png  # the plot somewhere else

What is timed (``ocrlib.load_mnist`` data, an MLP 784-128-10 with ReLU and softmax cross-entropy):

- epoch: one pass of plain mini-batch SGD (batch 64, lr 0.1) over the 60,000 training images, best of 3,
  starting from the uint8 images (each library's conversion to floats is inside the time);
- one example: the median time of one SGD step on one real image (``MLP.train_on_instance``);
- predict: the 10,000 test images, and a single image;
- drawing: strokes -> ``strokes_to_mnist`` -> probabilities, what the drawing pad does per digit.

The FLOP limit of a task is its matrix-multiply arithmetic divided by this machine's float32 matmul
throughput, measured in the same run on a 2048 x 2048 product: no implementation built on these matmuls
can be much faster. An epoch counts three matmuls per layer and image (forward, dW, and the delta passed
down): 3 * 2 * 60000 * (784*128 + 128*10) FLOPs. ``ocrlib`` skips layer 1's delta, which nothing needs,
so below 1x is possible; 1x is where the arithmetic of the straightforward loop alone takes all the time.

PyTorch and scikit-learn come with the ``bench`` extra (``pip install -e .[bench]``); without them their
columns are skipped with a note. Benchmarks are not tests: nothing here passes or fails.
"""
