"""moto's server, with one omission of moto's CloudFormation mended.

moto executes a change set by updating the stack's resources but never
computes the stack's outputs again, so a stack created or updated through a
change set has no outputs at all. CloudFormation evaluates a stack's
outputs whenever a change set executes; this does the same, the way moto's
own UpdateStack does (`Stack.update`), and changes nothing else.

Usage: python3 moto_server.py -H 127.0.0.1 -p PORT (as `moto_server`).
"""

from moto.cloudformation import models
from moto.server import main

_apply = models.ChangeSet.apply


def apply(self):
    _apply(self)
    # The stack's template is the change set's from now on (moto sets the
    # text after this returns; the outputs are read from the parsed form).
    self.stack.template_dict = self.template_dict
    self.stack.output_map = self.stack._create_output_map()


models.ChangeSet.apply = apply

if __name__ == "__main__":
    main()
