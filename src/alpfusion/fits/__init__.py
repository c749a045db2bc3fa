"""Statistics: the Poisson Lambda criterion, pyhf CLs limits, cut optimisation and mass scans."""
