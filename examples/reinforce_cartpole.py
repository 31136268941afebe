"""REINFORCE (policy gradient) on a cart-pole simulated in NumPy (tutorial 5): a linear
softmax policy learns to balance the pole from rewards alone.

    python examples/reinforce_cartpole.py --iterations 40 --episodes 16
"""

import argparse

import numpy as np

import symgraph as sg


def cartpole_step(state, push_right):
    """One 20 ms step of a batch of carts (Barto, Sutton & Anderson 1983). state: (n, 4) =
    position, velocity, pole angle, angular velocity. Returns new states and fallen flags."""
    x, x_dot, theta, theta_dot = state.T
    force = np.where(push_right == 1, 10.0, -10.0)
    cos, sin = np.cos(theta), np.sin(theta)
    total_mass, pole_mass_length = 1.1, 0.05
    temp = (force + pole_mass_length * theta_dot ** 2 * sin) / total_mass
    theta_acc = (9.8 * sin - cos * temp) / (0.5 * (4 / 3 - 0.1 * cos ** 2 / total_mass))
    x_acc = temp - pole_mass_length * theta_acc * cos / total_mass
    dt = 0.02
    new = np.stack([x + dt * x_dot, x_dot + dt * x_acc,
                    theta + dt * theta_dot, theta_dot + dt * theta_acc], axis=1)
    fallen = (np.abs(new[:, 0]) > 2.4) | (np.abs(new[:, 2]) > 12 * np.pi / 180)
    return new.astype("float32"), fallen


def play(policy, n_carts, max_steps, rng, greedy=False):
    """Run a batch of episodes; returns states, actions and which steps really happened."""
    state = rng.uniform(-0.05, 0.05, (n_carts, 4)).astype("float32")
    alive = np.ones(n_carts, bool)
    states, actions, alive_at = [], [], []
    for _ in range(max_steps):
        p_right = policy(state)[:, 1]
        action = (p_right > 0.5) if greedy else (rng.random(n_carts) < p_right)
        action = action.astype("int64")
        states.append(state)
        actions.append(action)
        alive_at.append(alive.copy())
        state, fallen = cartpole_step(state, action)
        alive &= ~fallen
        if not alive.any():
            break
    return np.array(states), np.array(actions), np.array(alive_at)


def returns(alive_at, gamma):
    rewards = alive_at.astype("float32")
    out = np.zeros_like(rewards)
    running = np.zeros(rewards.shape[1], "float32")
    for t in reversed(range(len(rewards))):
        running = rewards[t] + gamma * running
        out[t] = running
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=40,
                        help="policy updates (default 40)")
    parser.add_argument("--episodes", type=int, default=16,
                        help="episodes played per update (default 16)")
    parser.add_argument("--max-steps", type=int, default=200,
                        help="longest episode while training (default 200)")
    parser.add_argument("--lr", type=float, default=8.0, help="learning rate (default 8.0)")
    parser.add_argument("--gamma", type=float, default=0.99, help="discount (default 0.99)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--backend", default=None,
                        help="numba, python or cuda (default: sg.config.backend)")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    W = sg.shared(np.zeros((4, 2), "float32"), name="W")
    b = sg.shared(np.zeros(2, "float32"), name="b")
    s = sg.matrix("s", dtype="float32")
    a = sg.vector("a", dtype="int64")
    advantage = sg.vector("advantage", dtype="float32")
    logits = s @ W + b
    policy = sg.function([s], sg.nn.softmax(logits), backend=args.backend)
    log_prob = -sg.nn.cross_entropy(logits, a, reduction="none")
    loss = -sg.mean(log_prob * advantage)
    gW, gb = sg.grad(loss, [W, b])
    update = sg.function([s, a, advantage], loss, backend=args.backend,
                         updates=[(W, W - args.lr * gW), (b, b - args.lr * gb)])
    for iteration in range(args.iterations):
        states, actions, alive_at = play(policy, args.episodes, args.max_steps, rng)
        G = returns(alive_at, args.gamma)
        G = (G - G[alive_at].mean()) / (G[alive_at].std() + 1e-8)
        update(states[alive_at], actions[alive_at], G[alive_at])
        print(f"iteration {iteration:3d}  pole up for {alive_at.sum(axis=0).mean():6.1f} "
              f"steps on average (max {args.max_steps})")
    _, _, alive_at = play(policy, args.episodes, args.max_steps, rng, greedy=True)
    print(f"greedy policy: {alive_at.sum(axis=0).mean():.1f} steps on average "
          f"(max {args.max_steps})")


if __name__ == "__main__":
    main()
