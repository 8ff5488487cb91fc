"""Tools built on the components and the trainer: the optimizer race (tutorial section 2), the
learning-rate finder and the schedule plots. The CLI's ``race``, ``lr-find`` and ``schedule`` verbs
call them; ``trainlab.optimizers.race``, ``trainlab.schedules.plot`` and
``trainlab.training.lr_find.lr_find`` are the same functions under their older names.

    from trainlab.tools import race, lr_find, schedule_plot
    race.race(["sgd", "adam"], functions=["rosenbrock"], steps=200)
"""
