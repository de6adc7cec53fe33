"""numbax in one page: trace, differentiate, batch, compile.

Run: python examples/quickstart.py
"""
import numpy as np

import numbax
import numbax.numpy as jnp


def loss(w, x, y):
    """Logistic-regression negative log-likelihood."""
    logits = x @ w
    return jnp.mean(jnp.logaddexp(0.0, logits) - y * logits)


rng = np.random.default_rng(0)
x = rng.standard_normal((8, 3))
y = (x @ np.array([1.0, -2.0, 0.5]) > 0).astype(np.float64)
w = np.zeros(3)

print("The program numbax traced for grad(loss):")
print(numbax.make_jaxpr(numbax.grad(loss))(w, x, y))

print("\ngrad(loss)(w) =", numbax.grad(loss)(w, x, y))

cube = lambda t: t ** 3
d1 = numbax.grad(cube)
d2 = numbax.grad(d1)
d3 = numbax.grad(d2)
print("\nd/dx, d2/dx2, d3/dx3 of x**3 at 4.0:", [float(d(4.0)) for d in (d1, d2, d3)])


def f(v):
    return jnp.sin(v) * jnp.sum(v ** 2)


points = np.linspace(0.0, 1.0, 6).reshape(2, 3)
print("\nPer-point Jacobians of f, vmap(jacfwd(f)) over 2 points, shape",
      numbax.vmap(numbax.jacfwd(f))(points).shape)
print(numbax.vmap(numbax.jacfwd(f))(points))

print("\nHessian of the loss at w (jacfwd over jacrev):")
print(numbax.hessian(loss)(w, x, y))

fast_loss = numbax.jit(numbax.value_and_grad(loss))
print("\njit(value_and_grad(loss)):", fast_loss(w, x, y))
