"""Hints for 00_orientation (format: docs/AUTHORING.md, "Hints"; loaded by autograder/tools/selfcheck.py)."""

HINTS = {
    "conv2d_macs": [
        "Count output values first, then the work behind each one. Every value in the output feature map "
        "is one dot product between a kernel and a patch of the input; a MAC is one multiply-add in that "
        "dot product. Bias is not counted.",
        "How many output values are there for one image? (channels x height x width of the *output*.) "
        "How long is each dot product? It spans the kernel's spatial area and the input channels that "
        "one output channel sees - with `groups`, an output channel only sees its own group of "
        "in_channels / groups channels. Check that groups divides both channel counts and raise a "
        "ValueError otherwise.",
        "Write it as a product of two factors: outputs = <number of output values> and "
        "per_output = <input channels one output channel sees> * <kernel area>; return int(...) of the product. Test "
        "yourself: a depthwise 3x3 conv (groups = in_channels = out_channels = 8) on a 9x9 output costs "
        "8 * 81 * 9 MACs.",
    ],
    "accuracy": [
        "The predicted class of a row of logits is the position of its largest value; accuracy is the "
        "share of rows where that position equals the label.",
        "Take the argmax along the class dimension (dim=1) to get N predictions, compare them with y "
        "elementwise, and average the booleans. Before that, check the shapes: logits must be (N, C) "
        "and y must be (N,) - raise a ValueError with a clear message otherwise (a (N, 1) label tensor "
        "would silently broadcast to an (N, N) comparison).",
        "A skeleton with the blanks left to you: after the two shape checks, preds = logits.argmax(dim=...); "
        "hits = (preds == ...); return float(<mean of hits as floats>). The result must be a Python float "
        "in [0, 1] - not a tensor, not a percentage.",
    ],
}
