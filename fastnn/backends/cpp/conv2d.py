"""C++ conv2d adapter (csrc/conv2d.cpp); the extension re-checks every argument itself."""

from ._loader import load


def conv2d_forward(x, w, bias, stride, padding, dilation, groups, activation):
    return load().conv2d_forward(x, w, bias, stride, padding, dilation, groups, activation)


def conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups):
    return load().conv2d_backward_input(grad_out, w, input_shape, stride, padding, dilation, groups)


def conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation, groups, need_bias):
    return load().conv2d_backward_weight(x, grad_out, weight_shape, stride, padding, dilation,
                                         groups, need_bias)


def max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode):
    return load().max_pool2d_forward(x, kernel, stride, padding, dilation, ceil_mode)


def max_pool2d_backward(grad_out, arg, input_shape, kernel, stride, padding, dilation, ceil_mode):
    return load().max_pool2d_backward(grad_out, arg, input_shape, kernel, stride, padding,
                                      dilation, ceil_mode)
